// Preloaded (node --import) by the compile benchmark: reports the process's peak RSS on exit.
process.on('exit', () => {
  process.stderr.write(`tgate-peak-rss-kb=${process.resourceUsage().maxRSS}\n`);
});
