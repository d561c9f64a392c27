import ArgumentParser
import Foundation
import SluiceCore

/// The connector settings shared by `sluice connectors create|update` and `sluice feeds create-pair`: timeout,
/// metadata cache, filters, and the upstream's own credentials.
///
/// The upstream password is never taken from the command line (where `ps` and shell history would show it): it is
/// read from standard input (`--password-stdin`) or from a named environment variable (`--password-env VAR`).
struct UpstreamOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Seconds to wait for the upstream, 1 to 600 (server default 30).", valueName: "seconds"))
    var timeout: Int?

    @Option(
        help: ArgumentHelp(
            "Minutes a fetched repodata counts as fresh before a background refresh, 0 to 10080 (server default 30).",
            valueName: "minutes"))
    var metadataCacheMinutes: Int?

    @Flag(
        inversion: .prefixedNo,
        help: "Keep upstream repodata for --metadata-cache-minutes (the default), or revalidate on every request.")
    var metadataCache: Bool?

    @Option(help: ArgumentHelp("User name for the upstream channel (HTTP Basic).", valueName: "name"))
    var username: String?

    @Flag(help: "Read the upstream password from standard input (one line; the trailing newline is dropped).")
    var passwordStdin = false

    @Option(help: ArgumentHelp("Read the upstream password from this environment variable.", valueName: "VAR"))
    var passwordEnv: String?

    @Option(
        name: .customLong("filter"),
        help: ArgumentHelp(
            "A package name pattern to allow (`py*`, `lib?`) or, with a leading `!`, to block (`!evil-*`). Repeat "
                + "for several; without any allow pattern every name not blocked is allowed.",
            valueName: "pattern"))
    var filters: [String] = []

    /// Whether a password source was given.
    var readsPassword: Bool { passwordStdin || passwordEnv != nil }

    func validate() throws {
        if passwordStdin && passwordEnv != nil {
            throw ValidationError("Pass at most one of --password-stdin and --password-env.")
        }
        if let passwordEnv, passwordEnv.isEmpty {
            throw ValidationError("--password-env needs the name of an environment variable.")
        }
    }

    /// The connector fields these options set, in the API's names (`timeout`, `metadataCacheEnabled`,
    /// `metadataCacheMinutes`, `username`, `password`, `filters`); options not given are absent.
    ///
    /// - Throws: ``CLIError`` when the password source is empty or the environment variable is not set. The password
    ///   itself never appears in a message.
    func fields(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        readStandardInput: () -> Data = { FileHandle.standardInput.readDataToEndOfFile() }
    ) throws -> [String: JSONValue] {
        var fields: [String: JSONValue] = [:]
        if let timeout { fields["timeout"] = .int(Int64(timeout)) }
        if let metadataCacheMinutes { fields["metadataCacheMinutes"] = .int(Int64(metadataCacheMinutes)) }
        if let metadataCache { fields["metadataCacheEnabled"] = .bool(metadataCache) }
        if let username { fields["username"] = .string(username) }
        if !filters.isEmpty { fields["filters"] = .array(filters.map(JSONValue.string)) }
        if let password = try password(environment: environment, readStandardInput: readStandardInput) {
            fields["password"] = .string(password)
        }
        return fields
    }

    /// The upstream password from its source, or nil when none was given.
    private func password(environment: [String: String], readStandardInput: () -> Data) throws -> String? {
        if passwordStdin {
            var text = String(decoding: readStandardInput(), as: UTF8.self)
            if text.last?.isNewline == true { text.removeLast() }  // "\n" or "\r\n" (one Character in Swift)
            guard !text.isEmpty else {
                throw CLIError("--password-stdin: standard input held no password.")
            }
            return text
        }
        if let variable = passwordEnv {
            guard let value = environment[variable], !value.isEmpty else {
                throw CLIError("--password-env: the environment variable \(variable) is not set or empty.")
            }
            return value
        }
        return nil
    }
}
