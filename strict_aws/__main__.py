from strict_aws.server import main

main()
