import pkg from '../../package.json' with { type: 'json' };

/** car's version, as the CLI, `car describe` and the HTTP API report it. */
export const CAR_VERSION: string = pkg.version;
