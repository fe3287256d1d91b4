"""Views, one module per audience: accounts (everyone), patient (the intake), staff."""
