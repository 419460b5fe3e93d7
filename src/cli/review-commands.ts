/**
 * `qiao review …` as commander declarations only: the code (review.ts, which opens the store) loads when
 * one of them runs, so a quick `qiao` stays quick (program.ts).
 */
import type { Command } from 'commander';

/** Declares the commands; their code loads only when one runs (program.ts keeps `qiao` quick). */
export function registerReviewCommands(
  program: Command,
  act: <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>,
  configHelp: string,
): void {
  const review = program
    .command('review')
    .description('the review queue: records changed on both sides of a two-way sync');
  review
    .command('list')
    .description('list reviews (default: the open ones)')
    .option('-c, --config <file>', configHelp)
    .option('--status <status>', 'open, resolved or all (default open)')
    .option('--pair <pair>', 'only this sync pair (e.g. customer)')
    .option('--limit <n>', 'at most this many (default 50)')
    .option('--json', 'print JSON')
    .action(act(async (o) => (await import('./review.ts')).reviewListCommand(o)));
  review
    .command('show')
    .description('one review: each conflicting field as agreed last time and as each system has it now')
    .argument('<id>', 'review id')
    .option('-c, --config <file>', configHelp)
    .option('--json', 'print JSON')
    .action(act(async (id: string, o) => (await import('./review.ts')).reviewShowCommand(id, o)));
  review
    .command('resolve')
    .description("decide a review: one side's values (--choose) or the values to keep (--values)")
    .argument('<id>', 'review id')
    .option('--choose <side>', "keep this side's value of every conflicting field (e.g. crm or erp)")
    .option('--values <json>', 'values to keep by field, as JSON, e.g. \'{"address":"…"}\'')
    .option('-c, --config <file>', configHelp)
    .option('--actor <name>', 'who decides, for the audit log (default cli:<login>)')
    .action(act(async (id: string, o) => (await import('./review.ts')).reviewResolveCommand(id, o)));
}
