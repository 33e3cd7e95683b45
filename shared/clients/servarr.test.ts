import { describe, expect, it } from "vitest";
import { UpstreamError } from "../errors.ts";
import { ArrError, apiKeyFromConfigXml, containingItem } from "./servarr.ts";

// As Sonarr v4 writes it on first start (Radarr's differs only in ports and InstanceName).
const CONFIG_XML = `<Config>
  <BindAddress>*</BindAddress>
  <Port>8989</Port>
  <SslPort>9898</SslPort>
  <EnableSsl>False</EnableSsl>
  <LaunchBrowser>True</LaunchBrowser>
  <ApiKey>0f5c3a4b9e8d4c2a8b7e6d5c4b3a2f1e</ApiKey>
  <AuthenticationMethod>Forms</AuthenticationMethod>
  <AuthenticationRequired>Enabled</AuthenticationRequired>
  <Branch>main</Branch>
  <LogLevel>info</LogLevel>
  <SslCertPath></SslCertPath>
  <SslCertPassword></SslCertPassword>
  <UrlBase></UrlBase>
  <InstanceName>Sonarr</InstanceName>
</Config>
`;

describe("apiKeyFromConfigXml", () => {
  it("reads the key from a real-looking config.xml", () => {
    expect(apiKeyFromConfigXml(CONFIG_XML)).toBe("0f5c3a4b9e8d4c2a8b7e6d5c4b3a2f1e");
  });

  it("accepts an XML declaration, a BOM and whitespace around the key", () => {
    const xml = `\uFEFF<?xml version="1.0" encoding="utf-8"?>\n<Config>\n  <ApiKey>\n   abc123\n  </ApiKey>\n</Config>`;
    expect(apiKeyFromConfigXml(xml)).toBe("abc123");
  });

  it("ignores a commented-out key", () => {
    const xml = "<Config><!-- <ApiKey>old</ApiKey> --><ApiKey>new</ApiKey></Config>";
    expect(apiKeyFromConfigXml(xml)).toBe("new");
  });

  it.each([
    ["a config without the tag", CONFIG_XML.replace(/ {2}<ApiKey>.*\n/, ""), /no <ApiKey> element/],
    ["an empty key", "<Config><ApiKey>  </ApiKey></Config>", /<ApiKey> is empty/],
    ["only a commented-out key", "<Config><!--<ApiKey>x</ApiKey>--></Config>", /no <ApiKey> element/],
    ["garbage", "\u0000\u0001 not xml at all {}", /not a Sonarr\/Radarr config/],
    ["an empty file", "", /not a Sonarr\/Radarr config/],
    ["an HTML page", "<html><body>502 Bad Gateway</body></html>", /not a Sonarr\/Radarr config/],
  ])("throws a clear error for %s", (_, xml, message) => {
    expect(() => apiKeyFromConfigXml(xml)).toThrow(message);
  });
});

describe("containingItem", () => {
  const items = [
    { id: 1, path: "/tv/Show" },
    { id: 2, path: "/tv/Show 2" },
    { id: 3, path: "/tv/Show/Specials Collection" },
    { id: 4, path: "/anime/" },
    { id: 5, path: "D:\\TV\\Win Show" },
  ];

  it.each([
    ["/tv/Show/Season 01/Show - S01E01.mkv", 1],
    ["/tv/Show 2/Season 01/Show 2 - S01E01.mkv", 2],
    ["/tv/Show/Specials Collection/Season 00/x.mkv", 3],
    ["/anime/Season 1/ep.mkv", 4],
    ["D:\\TV\\Win Show\\Season 1\\ep.mkv", 5],
    ["/tv/Show", undefined],
    ["/tv/Shower/Season 01/x.mkv", undefined],
    ["/tv/Sho/x.mkv", undefined],
    ["/movies/Film (2020)/Film.mkv", undefined],
  ])("%s → item %s", (path, id) => {
    expect(containingItem(items, path)?.id).toBe(id);
  });

  it("prefers the deepest folder whatever the listing order", () => {
    expect(containingItem([...items].reverse(), "/tv/Show/Specials Collection/a.mkv")?.id).toBe(3);
  });
});

describe("ArrError", () => {
  it("is an UpstreamError that keeps instance, endpoint, status and cause", () => {
    const cause = new Error("boom");
    const e = new ArrError("sonarr-4k", "/api/v3/queue", "sonarr", "sonarr-4k GET /api/v3/queue: HTTP 503", {
      status: 503,
      transient: true,
      cause,
    });
    expect(e).toBeInstanceOf(UpstreamError);
    expect(e).toMatchObject({
      name: "ArrError",
      service: "sonarr",
      instance: "sonarr-4k",
      endpoint: "/api/v3/queue",
      status: 503,
      transient: true,
      cause,
    });
    expect(e.message).toBe("sonarr: sonarr-4k GET /api/v3/queue: HTTP 503");
  });
});
