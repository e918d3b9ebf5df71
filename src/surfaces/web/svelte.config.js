// Every component uses runes.
export default { compilerOptions: { runes: true } };
