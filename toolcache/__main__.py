from toolcache._entry import main

raise SystemExit(main())
