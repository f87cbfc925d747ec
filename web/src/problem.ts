/** A failed call as one line: the status, the problem+json `field` (stable code for the operator tab,
 * human title for the user page) and its detail; the start of the body when it is not JSON. */
export async function problem(response: Response, field: "code" | "title"): Promise<string> {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    return `${response.status} ${body[field] ?? ""}${body.detail ? `: ${body.detail}` : ""}`.trim();
  } catch {
    return `${response.status} ${text.slice(0, 200)}`.trim();
  }
}
