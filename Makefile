# Shortcuts for the two commands of the README; each only calls run.py.
.PHONY: reports test lab setup clean

reports:
	python3 run.py reports

test:
	python3 run.py test

lab:
	python3 run.py lab

setup:
	python3 run.py setup

clean:
	rm -rf build reports
