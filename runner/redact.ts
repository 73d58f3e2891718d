/** A URL's password (s3://KEY:SECRET@bucket/..., postgres://u:pw@host) replaced by "…",
 * so an error message never prints a secret it quotes (configuration errors, the CLI's
 * error lines). */
export function redactSecrets(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/[^/@\s:"]*):[^/@\s"]*@/gi, '$1:…@');
}
