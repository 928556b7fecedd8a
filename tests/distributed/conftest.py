# Scripts run by tests/test_distributed.py under torchrun, not test modules:
# importing them (pytest --doctest-modules) would run them.
collect_ignore = ["train_2proc.py", "load_plain.py"]
