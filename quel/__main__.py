from quel.cli import app

app()
