import { Box, Text } from 'ink';
import { perSecond, sparkline, type RateSeries } from '../state/rates.js';
import { useTheme } from '../theme.js';

/** `label ▁▂▅█▃ 2.4/s`: counts per bucket over the last minutes, and the rate of the last minute. */
export function Sparkline({ label, series, now, width }: { label: string; series: RateSeries; now: number; width: number }) {
  const theme = useTheme();
  const rate = perSecond(series, now);
  const bars = Math.max(4, Math.min(series.counts.length, width - 30));
  const minutes = Math.max(1, Math.round((bars * series.bucketMs) / 60_000));
  return (
    <Box>
      <Text>{label.padEnd(9)}</Text>
      <Text color={theme.color('accent')}>{sparkline(series.counts, bars)}</Text>
      <Text bold>{` ${rate < 10 ? rate.toFixed(1) : Math.round(rate)}/s`}</Text>
      <Text color={theme.color('muted')}>{` (${minutes} min)`}</Text>
    </Box>
  );
}
