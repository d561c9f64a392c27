import ArgumentParser

/// The `sluice` executable: `sluice serve` runs the server; every other command is a client of its REST API.
@main
struct SluiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Sluice, a self-hosted conda channel gateway.",
        discussion: """
            `sluice serve` runs the server. The other commands talk to a running server over its REST API \
            (`--server URL`, or SLUICE_URL; default \(ConnectionOptions.defaultServerURL)).
            """,
        subcommands: [
            ServeCommand.self,
            FeedsCommand.self,
            ConnectorsCommand.self,
            PackagesCommand.self,
            PromoteCommand.self,
            UsersCommand.self,
            GroupsCommand.self,
            PermissionsCommand.self,
            AnonymousAccessCommand.self,
            APIKeysCommand.self,
            EventsCommand.self,
            VulnerabilitiesCommand.self,
            ComplianceCommand.self,
            VersionCommand.self,
        ]
    )
}
