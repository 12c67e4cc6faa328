const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function ipv4Octets(text: string): number[] | undefined {
  const match = IPV4.exec(text);
  if (match === null) return undefined;
  const octets = match.slice(1).map((part) =>
    // Leading zeros are refused: some parsers read them as octal.
    part.length > 1 && part.startsWith('0') ? Number.NaN : Number(part),
  );
  return octets.every((o) => o <= 255) ? octets : undefined;
}

function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (half: string): number[] | undefined => {
    if (half === '') return [];
    const parts = half.split(':');
    const groups: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes('.')) {
        const octets = ipv4Octets(part);
        if (octets === undefined) return undefined;
        groups.push(
          octets[0]! * 256 + octets[1]!,
          octets[2]! * 256 + octets[3]!,
        );
      } else if (HEX_GROUP.test(part)) {
        groups.push(Number.parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = parse(halves[0]!);
  if (head === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const tail = parse(halves[1]!);
  // A dotted tail only ends an address, never precedes '::'.
  if (tail === undefined || halves[0]!.includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/**
 * The canonical text of an IPv4 or IPv6 address, or undefined when `text` is
 * neither. IPv4 stays dotted (leading zeros refused); IPv6 becomes eight
 * lower-case groups without leading zeros or `::` (zone ids refused), so two
 * spellings of one address compare equal.
 */
export function canonicalIp(text: string): string | undefined {
  if (text.length > 45) return undefined;
  const v4 = ipv4Octets(text);
  if (v4 !== undefined) return v4.join('.');
  const v6 = ipv6Groups(text);
  return v6 === undefined ? undefined : v6.map((g) => g.toString(16)).join(':');
}
