from secondhand_site.cli import main

main()
