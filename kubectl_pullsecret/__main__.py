from kubectl_pullsecret.cli import main

raise SystemExit(main())
