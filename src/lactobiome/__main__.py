from lactobiome.cli import main

main()
