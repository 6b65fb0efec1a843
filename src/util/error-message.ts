/** The message of anything thrown, for composing a message of our own. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
