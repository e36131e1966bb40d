python3 bench/log_bench.py --quick
