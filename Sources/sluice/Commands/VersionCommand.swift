import ArgumentParser
import SluiceServer

/// `sluice version`: prints the version of this executable (the same one the server reports in `GET /health.json`).
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the version of this sluice executable."
    )

    func run() {
        print("sluice \(SluiceVersion.current)")
    }
}
