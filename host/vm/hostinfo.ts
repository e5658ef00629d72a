// Facts about the host that shape a local VM's command line.
import { readFileSync, openSync, closeSync, constants } from 'node:fs';

/**
 * The host's TSC frequency in kHz, for the guest boot arg `tsc_early_khz=`: under TCG the guest's
 * TSC ticks at the host's rate, and on a loaded host the guest hung while calibrating it
 * (docs/vms.md). Taken from /proc/cpuinfo: constant inside a VM; on bare metal with frequency
 * scaling a rough value is still far better than a hung calibration.
 */
export function hostTscKhz(): number | undefined {
  try {
    const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
    const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
    if (mhz) {
      const khz = Math.round(Number(mhz[1]) * 1000);
      if (Number.isFinite(khz) && khz > 0) return khz;
    }
  } catch {
    // not Linux, or /proc hidden: the guest calibrates on its own
  }
  return undefined;
}

/**
 * Whether /dev/kvm can be opened read-write. Openable is not the same as working: nested KVM on
 * these machines asserted or hung, so the launcher defaults to TCG and KVM is opt-in.
 */
export function kvmOpenable(): boolean {
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}
