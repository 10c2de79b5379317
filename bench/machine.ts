/**
 * What the benchmarks (bench/run.ts, bench/api.ts) ask of the machine: the commit measured, whether taskset is there,
 * and pinning the harness to the CPUs after the first.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { REPO_ROOT } from './server.js';

/** The commit measured, and whether the work tree differed from it. */
export function gitState(): { commit: string; dirty: boolean } | null {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'bin'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

export function hasTaskset(): boolean {
  return spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
}

/**
 * Pins this process to CPUs 1… of `cpus` (at least 2), leaving CPU 0 to the server: with -a every thread, and so every
 * worker created after this, runs on the generator's CPUs. Returns that CPU list and how many cores it holds.
 */
export function pinGenerator(cpus: number): { generatorCpus: string; genCores: number } {
  const generatorCpus = cpus === 2 ? '1' : `1-${cpus - 1}`;
  execFileSync('taskset', ['-a', '-p', '-c', generatorCpus, String(process.pid)], { stdio: 'ignore' });
  return { generatorCpus, genCores: cpus - 1 };
}
