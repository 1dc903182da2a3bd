from simlab.entry import main

main()
