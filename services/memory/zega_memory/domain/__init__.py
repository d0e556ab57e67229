"""Memory's pure logic: records and the store interface, input rules, fact matching, style traits."""
