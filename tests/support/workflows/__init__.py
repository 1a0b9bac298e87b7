"""This repository's workflows run with act, as a user of the example model triggers them."""
