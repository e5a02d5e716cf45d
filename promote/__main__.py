from promote.cli import main

raise SystemExit(main())
