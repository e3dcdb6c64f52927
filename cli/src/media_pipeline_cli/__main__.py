from media_pipeline_cli.app import main

main()
