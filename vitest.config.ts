// Two projects: `unit` runs on the host (pure logic, no device), `lab` runs inside the
// QEMU lab against real devices through real VFIO (scripts/test.sh boots the lab and
// runs it there). Workspace packages resolve to their TypeScript sources, so tests
// never need a build of the TypeScript (the native addon must be built).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const alias = {
  '@vfio-node/core': src('./packages/core/src/index.ts'),
  '@vfio-node/lab': src('./packages/lab/src/index.ts'),
  '@vfio-node/runtime': src('./packages/runtime/src/index.ts'),
  '@vfio-node/nvme': src('./drivers/nvme/src/index.ts'),
  '@vfio-node/virtio-net': src('./drivers/virtio-net/src/index.ts'),
  '@vfio-node/bench': src('./bench/src/index.ts'),
  '@vfio-node/bdev': src('./packages/bdev/src/index.ts'),
  '@vfio-node/nvmf': src('./packages/nvmf/src/index.ts'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'drivers/*/src/**/*.test.ts', 'bench/src/**/*.test.ts', 'native/test/**/*.test.ts', 'test/unit/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'lab',
          include: ['test/lab/**/*.test.ts'],
          // One device, one process at a time: VFIO groups are exclusive.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // Lab tests that need a lab of their own (a slow or failing backing store, a
          // hot-pluggable controller): each file's first line says `// lab: ARGS` for
          // `vfio-node lab run`, and scripts/test.sh boots one lab per file.
          name: 'scenario',
          include: ['test/lab-scenarios/**/*.test.ts'],
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // The HTML report opened in a real browser: Debian's headless Chromium (installed by
          // scripts/bootstrap.sh), driven by playwright-core. One browser, one file at a time.
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // What a user does: pack every package, install the tarballs with plain npm in an
          // empty project outside the repository, import them and run `npx vfio-node` there.
          // No aliases: nothing here may load the repository's sources.
          name: 'install',
          include: ['test/install/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 600_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'e2e',
          // Host-side tests that boot their own lab (backing-image checks, fault injection).
          include: ['test/e2e/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
