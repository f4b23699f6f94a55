"""The command line (`clinical-mlops`): the top layer, it may import every other package."""
