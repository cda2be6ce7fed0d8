declare module 'require-from-string' {
  function requireFromString(code: string, filename?: string): unknown;
  export = requireFromString;
}
