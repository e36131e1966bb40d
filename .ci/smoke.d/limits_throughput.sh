python3 -m bench.limits_throughput --smoke
