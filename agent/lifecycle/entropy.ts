// Makes the guest kernel's RNG diverge from its template's: a clone restored from a memory
// snapshot has the template's CRNG state, so until it reseeds, every clone reads the same
// "random" bytes. Node has no ioctl; perl (perl-base is Essential in Debian) does it with a
// constant script, the host's bytes on stdin.
import { runTool } from './tool.js';

export const PERL = '/usr/bin/perl';

/**
 * RNDADDENTROPY = _IOW('R', 0x03, int[2]) = 0x40085203 and RNDRESEEDCRNG = _IO('R', 0x07) =
 * 0x5207 (include/uapi/linux/random.h; the generic ioctl encoding of x86_64 and arm64). The
 * argument is struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }, the
 * count in bits: the host's bytes are credited in full (the host is trusted). Both ioctls
 * need CAP_SYS_ADMIN.
 */
export const RESEED_SCRIPT = `binmode STDIN; local $/; my $bytes = <STDIN>;
defined $bytes && length $bytes or die "no entropy on stdin\\n";
open(my $rng, "<", "/dev/urandom") or die "open /dev/urandom: $!\\n";
ioctl($rng, 0x40085203, pack("i i a*", 8 * length $bytes, length $bytes, $bytes)) or die "RNDADDENTROPY: $!\\n";
ioctl($rng, 0x5207, 0) or die "RNDRESEEDCRNG: $!\\n";
`;

export type Outcome = { ok: true } | { ok: false; error: string };

/** Mixes `entropy` into the kernel's pool and forces a CRNG reseed; never throws. */
export async function reseedKernelRng(entropy: Uint8Array): Promise<Outcome> {
  try {
    await runTool(PERL, ['-e', RESEED_SCRIPT], entropy);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}
