// How a plugin ends a call: a refusal it chose (reject), or a failure (a throw, a rejected
// promise, a hook that did not settle in time, a reject with a status out of range).

/** `call.reject(...)`: the call ends with this status and the gateway's error body. */
export class PluginRejection extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> | undefined,
    /** `problems` lines for the body (request-validation's, or any plugin's). */
    readonly problems?: readonly string[],
  ) {
    super(message);
  }
}

/** A hook failed: 500, or 504 when it did not settle within the deadline. */
export class PluginFailure extends Error {
  constructor(
    readonly plugin: string,
    readonly status: 500 | 504,
    override readonly cause: unknown,
  ) {
    super(status === 504 ? `plugin ${plugin} did not answer in time` : `plugin ${plugin} failed`);
  }
}
