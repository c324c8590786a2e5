import { afterEach, describe, expect, it } from 'vitest';
import { connectEngine } from '../../src/api/client.js';
import { startLive, type LiveEngine } from '../helpers/engine.js';
import { tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';

// Colours are decided when ink (chalk) loads: force them on for this file's
// fresh module graph, then check that NO_COLOR's theme writes none.
process.env.FORCE_COLOR = '1';
const { createElement } = await import('react');
const { render } = await import('ink-testing-library');
const { App } = await import('../../tui/App.js');
const { TuiClient } = await import('../../tui/api/tui-client.js');

// eslint-disable-next-line no-control-regex
const COLOR = /\x1b\[(3[0-9]|9[0-7]|38;)/;

describe('NO_COLOR', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  afterEach(async () => {
    await live?.close();
    live = null;
    await ws?.cleanup();
  });

  it('draws states in colour, and with NO_COLOR in plain text', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/hello.sh', 'echo hi\n');
    await ws.write('patterns/greet.yaml', 'recipe: hello\ntrigger: {paths: "data/*.txt"}\n');
    await ws.write('data/a.txt', 'a');
    live = await startLive(ws.root);
    await waitFor(() => live?.engine.store.countJobs().succeeded === 1, 'the job');
    const api = await connectEngine(ws.root);
    for (const noColor of [false, true]) {
      const ui = render(createElement(App, { client: new TuiClient(api!), noColor }));
      try {
        const frame = await waitFor(() => (ui.lastFrame()?.includes('succeeded') && ui.lastFrame()?.includes('Running (0)') ? ui.lastFrame() : null), 'the overview');
        expect(COLOR.test(frame), `colour codes with noColor=${noColor}`).toBe(!noColor);
      } finally {
        ui.unmount();
      }
    }
  });
});
