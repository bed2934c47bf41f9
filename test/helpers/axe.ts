import assert from 'node:assert/strict';
import axe from 'axe-core';
import type { Page } from 'playwright-core';

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/** axe-core in the page (evaluated over the DevTools protocol, so the page's CSP stays as it is): no serious or critical violation. */
export async function assertAccessible(page: Page, screen: string): Promise<void> {
  await page.waitForLoadState('networkidle');
  // What the mouse last clicked would be checked in its hover colours: move it out of the way.
  await page.mouse.move(0, 0);
  // Colours are judged once transitions (a dialog fading in) have finished. (These run in the page, whose types this project doesn't load.)
  await page.waitForFunction(() => (globalThis as unknown as { document: { getAnimations(): { playState: string }[] } }).document.getAnimations().every((animation) => animation.playState !== 'running'));
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.evaluate(axe.source);
  const violations = (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
    result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ') + ': ' + n.html.slice(0, 160)).slice(0, 5) })))`)) as Violation[];
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `${screen}: no serious or critical accessibility violation`);
}
