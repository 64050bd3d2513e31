// Tests are compiled by tsc (npm run build) and run as native ES modules: onnx-buf is ESM-only,
// and running the emitted JavaScript means the suite exercises exactly what `tgate` ships.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/tests'],
  testMatch: ['**/*.test.js'],
  transform: {},
  testTimeout: 300000,
  verbose: false,
};
