from stepc.cli import main

main()
