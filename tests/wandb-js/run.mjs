// An unmodified-style wandb script for the real @wandb/sdk client: init with config, many log calls with
// non-finite values among them, then finish with a non-zero exit code. Run against a Liftoff server with
// WANDB_BASE_URL and WANDB_API_KEY set; prints one JSON line with what it did, for the test to compare.
import wandb from '@wandb/sdk';

const steps = Number(process.env.LIFTOFF_STEPS ?? '10000');
const exitCode = Number(process.env.LIFTOFF_EXIT_CODE ?? '3');
const config = { lr: 0.01, layers: [64, 32], optimizer: { name: 'adam', beta: 0.9 }, seed: 7 };

// A value per step, with NaN, Infinity and -Infinity on fixed steps so the reader knows where to expect them.
function odd(i) {
  if (i % 100 === 3) return NaN;
  if (i % 100 === 5) return Infinity;
  if (i % 100 === 7) return -Infinity;
  return i;
}

// A launched run's key reports into that run only: the JS client reads neither WANDB_RUN_ID nor WANDB_ENTITY itself, as
// the Python one does, so the script passes them (no entity: the key's own, which the client asks the server for).
const run = await wandb.init({
  project: process.env.LIFTOFF_PROJECT ?? 'wandb-js', entity: process.env.WANDB_ENTITY, config, id: process.env.WANDB_RUN_ID,
});
for (let i = 0; i < steps; i += 1) {
  wandb.log({ loss: 1 / (i + 1), acc: i / steps, odd: odd(i) });
}

// The client reports the code given to finish as the file_stream's exitcode; the process ends with it too, as a
// failing script would.
await wandb.finish(exitCode);
console.log(JSON.stringify({ id: run.id, entity: run.entity, project: run.project, name: run.name, steps, exitCode, config }));
process.exitCode = exitCode;
