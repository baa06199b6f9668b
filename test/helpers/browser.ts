import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';

/** Installs Debian's chromium when it is missing (apt-get, as root) and prints its path (from test/dist/helpers). */
const ENSURE_CHROMIUM = fileURLToPath(new URL('../../../scripts/ensure-chromium.sh', import.meta.url));

/** How long an install of chromium may take (apt-get update and the package with its libraries). */
export const CHROMIUM_INSTALL_TIMEOUT_MS = 600_000;

/**
 * Headless Chromium driven by playwright-core: `CHROMIUM_PATH` when set, else Debian's `chromium`, installed by
 * `scripts/ensure-chromium.sh` if need be. Flags for root in a container: no sandbox, the new headless mode.
 */
export async function launchChromium(): Promise<Browser> {
  let executablePath = process.env.CHROMIUM_PATH;
  if (executablePath === undefined) {
    const { stdout } = await promisify(execFile)('bash', [ENSURE_CHROMIUM], {
      timeout: CHROMIUM_INSTALL_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: Error & { stderr?: string }) => {
      throw new Error(`could not install chromium (${ENSURE_CHROMIUM}): ${error.stderr ?? error.message}`);
    });
    executablePath = stdout.trim().split('\n').pop();
  }
  return chromium.launch({ executablePath, args: ['--no-sandbox', '--headless=new'] });
}

/** Whether `bytes` are a PNG image (its signature), and its width and height (from the IHDR chunk). */
export function pngSize(bytes: Buffer): { width: number; height: number } | undefined {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(signature)) return undefined;
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
