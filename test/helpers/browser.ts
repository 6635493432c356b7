import { Browser, chromium } from 'playwright-core';

/** The distribution's Chromium (Debian package `chromium`; `.ci/run` installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';

/** Flags this machine's Chromium needs: headless, no sandbox (containers), no GPU, no calls home. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Headless Chromium through playwright-core. Every launch gets a fresh temporary profile (Playwright
 * creates and removes its own --user-data-dir), so no state survives between tests.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
