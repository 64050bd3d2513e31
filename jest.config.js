// Tests are compiled by tsc (npm run build) and run as native ES modules: onnx-buf is ESM-only,
// and running the emitted JavaScript means the suite exercises exactly what `tgate` ships.
export default {
  testEnvironment: '<rootDir>/tests/jest-environment.cjs',
  roots: ['<rootDir>/dist/tests'],
  testMatch: ['**/*.test.js'],
  transform: {},
  testTimeout: 300000,
  verbose: false,
};
