python3 -m bench.log_overhead --quick
