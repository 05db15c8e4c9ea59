// The build writes ../dist, which is committed and embedded in the node's binary (web/build.rs).
// Output names carry content hashes, so the same sources and package-lock.json give the same
// bytes: CI rebuilds and fails on any difference.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    reportCompressedSize: false,
    target: 'es2022',
  },
  server: {
    // `npm run dev` against a node on the default address.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/stream': { target: 'ws://127.0.0.1:8080', ws: true },
    },
  },
});
