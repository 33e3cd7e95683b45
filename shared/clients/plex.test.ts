import { describe, expect, it } from "vitest";
import { createFakePlex, type FakePlex, makeSection } from "../../test/fakes/plex.ts";
import { UpstreamError } from "../errors.ts";
import { MalformedResponseError } from "../validate.ts";
import { createPlexClient, sectionFor } from "./plex.ts";

function library(): FakePlex {
  return createFakePlex({
    sections: [
      makeSection({ key: "1", title: "Movies", type: "movie", locations: ["/media/movies", "/media/movies-extra/"] }),
      makeSection({ key: "2", title: "TV", locations: ["/media/tv"] }),
      makeSection({ key: "3", title: "Anime", locations: ["/media/tv/Anime"] }),
      makeSection({ key: "4", title: "One show", locations: ["/media/tv/Show"] }),
    ],
  });
}

const clientFor = (fake: FakePlex, token = fake.token, timeoutMs?: number) =>
  createPlexClient({ url: fake.baseUrl, token, fetch: fake.fetch, timeoutMs });

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => expect.fail("expected a rejection"),
    (e: unknown) => e,
  );
}

describe("createPlexClient refreshPath", () => {
  it("refreshes the folder in the section whose location holds it", async () => {
    const fake = library();
    expect(await clientFor(fake).refreshPath("/media/movies/Film (2020)")).toEqual({ sectionId: "1" });
    expect(await clientFor(fake).refreshPath("/media/movies-extra/Other (1999)/")).toEqual({ sectionId: "1" });
    expect(fake.refreshes).toEqual([
      { sectionId: "1", path: "/media/movies/Film (2020)" },
      { sectionId: "1", path: "/media/movies-extra/Other (1999)/" },
    ]);
  });

  it("prefers the deepest location and respects folder boundaries", async () => {
    const fake = library();
    const plex = clientFor(fake);
    expect(await plex.refreshPath("/media/tv/Anime/Frieren/Season 1")).toEqual({ sectionId: "3" });
    expect(await plex.refreshPath("/media/tv/Show/Season 01")).toEqual({ sectionId: "4" });
    // "/media/tv/Show 2" is not inside "/media/tv/Show": it belongs to the TV library.
    expect(await plex.refreshPath("/media/tv/Show 2/Season 01")).toEqual({ sectionId: "2" });
    expect(fake.refreshes.map((r) => r.sectionId)).toEqual(["3", "4", "2"]);
  });

  it("sends the token as a header, never in the URL", async () => {
    const fake = library();
    const seen: string[] = [];
    const fetch: typeof globalThis.fetch = (input, init) => {
      const req = new Request(input, init);
      seen.push(`${req.url} ${req.headers.get("x-plex-token")} ${req.headers.get("accept")}`);
      return fake.fetch(req);
    };
    await createPlexClient({ url: `${fake.baseUrl}/`, token: fake.token, fetch }).refreshPath("/media/tv/Show");
    expect(seen).toEqual([
      `${fake.baseUrl}/library/sections ${fake.token} application/json`,
      `${fake.baseUrl}/library/sections/4/refresh?path=%2Fmedia%2Ftv%2FShow ${fake.token} application/json`,
    ]);
  });

  it("encodes the folder so spaces, +, & and accents arrive intact over real HTTP", async () => {
    const fake = library();
    const server = await fake.listen();
    try {
      const plex = createPlexClient({ url: server.url, token: fake.token });
      const folder = "/media/tv/Tom & Jerry + Friends (1940)/Saison 1 – Été #2";
      expect(await plex.refreshPath(folder)).toEqual({ sectionId: "2" });
      expect(fake.refreshes).toEqual([{ sectionId: "2", path: folder }]);
    } finally {
      await server.close();
    }
  });

  it("returns null and refreshes nothing when no section holds the folder", async () => {
    const fake = library();
    expect(await clientFor(fake).refreshPath("/media/music/Album")).toBeNull();
    expect(await clientFor(fake).refreshPath("/media/movies2/Film")).toBeNull();
    expect(fake.refreshes).toEqual([]);
  });

  it("returns null on a server without libraries", async () => {
    const fake = createFakePlex();
    expect(await clientFor(fake).refreshPath("/media/tv/Show")).toBeNull();
    expect(fake.requests.map((r) => r.path)).toEqual(["/library/sections"]);
  });

  it("turns a wrong token into an UpstreamError with status 401", async () => {
    const fake = library();
    const err = await rejection(clientFor(fake, "wrong-token").refreshPath("/media/tv/Show"));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ service: "plex", status: 401 });
    expect((err as Error).message).toBe("plex: token rejected (HTTP 401 on GET /library/sections)");
    expect((err as Error).message).not.toContain("wrong-token");
  });

  it("reports a failed refresh with its status", async () => {
    const fake = library();
    fake.inject({ status: 500, path: /refresh$/ });
    const err = await rejection(clientFor(fake).refreshPath("/media/tv/Show"));
    expect(err).toMatchObject({ name: "UpstreamError", service: "plex", status: 500 });
    expect((err as Error).message).toBe("plex: GET /library/sections/4/refresh: HTTP 500");
  });

  it.each([
    [
      "a Directory without key",
      JSON.stringify({ MediaContainer: { Directory: [{ Location: [{ path: "/tv" }] }] } }),
      /Directory\[0\]\.key/,
    ],
    [
      "a Location without path",
      JSON.stringify({ MediaContainer: { Directory: [{ key: "1", Location: [{ id: 1 }] }] } }),
      /Location\[0\]\.path/,
    ],
    ["XML instead of JSON", '<?xml version="1.0"?><MediaContainer size="0"/>', /response: expected Object/],
  ])("rejects %s with a clear MalformedResponseError", async (_, body, problem) => {
    const fake = library();
    fake.inject({ status: 200, body, path: /^\/library\/sections$/ });
    const err = await rejection(clientFor(fake).refreshPath("/media/tv/Show"));
    expect(err).toBeInstanceOf(MalformedResponseError);
    expect((err as MalformedResponseError).message).toMatch(/^plex \/library\/sections: unexpected response: /);
    expect((err as MalformedResponseError).problems.join("\n")).toMatch(problem);
    expect(fake.refreshes).toEqual([]);
  });

  it("turns an unreachable server into an UpstreamError without status", async () => {
    const plex = createPlexClient({ url: "http://elsewhere:32400", token: "t", fetch: library().fetch });
    const err = await rejection(plex.refreshPath("/media/tv/Show"));
    expect(err).toMatchObject({ name: "UpstreamError", status: undefined });
    expect((err as Error).message).toBe("plex: GET /library/sections: getaddrinfo ENOTFOUND elsewhere:32400");
  });

  it("refuses a relative folder", async () => {
    await expect(clientFor(library()).refreshPath("tv/Show")).rejects.toThrow(/absolute folder/);
  });
});

describe("sectionFor", () => {
  const sections = [
    { key: "1", Location: [{ path: "/tv/Show" }] },
    { key: "2", Location: [{ path: "/tv" }, { path: "/tv-4k/" }] },
    { key: "3", Location: [{ path: "D:\\Media\\TV" }] },
    { key: "4", Location: [{ path: "/" }] },
  ];

  it.each([
    ["/tv/Show/Season 01", "1"],
    ["/tv/Show", "1"],
    ["/tv/Show/", "1"],
    ["/tv/Show 2", "2"],
    ["/tv/Shower", "2"],
    ["/tv", "2"],
    ["/tv-4k/Show", "2"],
    ["D:\\Media\\TV\\Show", "3"],
    ["D:\\Media\\TV2\\Show", undefined],
    ["/tvshows/x", "4"],
  ])("%s → section %s", (folder, key) => {
    expect(sectionFor(sections, folder)).toBe(key);
  });

  it("finds nothing without a root library", () => {
    expect(sectionFor(sections.slice(0, 2), "/tvshows/x")).toBeUndefined();
  });
});
