python3 bench/limits_bench.py --quick
