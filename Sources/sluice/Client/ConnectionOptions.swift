import ArgumentParser
import Foundation

/// Options shared by every client command: where the server is, how to authenticate, and how to print results.
///
/// Each option falls back to an environment variable, then to a default: `--server` (SLUICE_URL,
/// default http://127.0.0.1:8624), `--api-key` (SLUICE_API_KEY, sent as `X-ApiKey`), `--user` and `--password`
/// (SLUICE_USER, SLUICE_PASSWORD; HTTP Basic, the user defaults to `Admin` when only a password is given).
struct ConnectionOptions: ParsableArguments {
    static let defaultServerURL = "http://127.0.0.1:8624"

    @Option(name: .long, help: ArgumentHelp("Base URL of the Sluice server (env: SLUICE_URL).", valueName: "url"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("API key, sent as X-ApiKey (env: SLUICE_API_KEY).", valueName: "key"))
    var apiKey: String?

    @Option(
        name: .long,
        help: ArgumentHelp("User name for the Sluice server, HTTP Basic (env: SLUICE_USER).", valueName: "name")
    )
    var user: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Password for the Sluice server, HTTP Basic (env: SLUICE_PASSWORD).", valueName: "password")
    )
    var password: String?

    @Flag(name: .long, help: "Print the server's raw JSON instead of a table.")
    var json = false

    /// Resolves flags, then environment, then defaults into the settings an ``APIClient`` needs.
    ///
    /// - Throws: `ValidationError` when the server URL is not an http(s) URL.
    func resolved(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> APIClient.Settings {
        func nonEmpty(_ value: String?) -> String? {
            guard let value, !value.isEmpty else { return nil }
            return value
        }
        var base = nonEmpty(server) ?? nonEmpty(environment["SLUICE_URL"]) ?? Self.defaultServerURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", url.host != nil
        else {
            throw ValidationError("--server must be an http:// or https:// URL, got '\(base)'.")
        }
        let key = nonEmpty(apiKey) ?? nonEmpty(environment["SLUICE_API_KEY"])
        let secret = nonEmpty(password) ?? nonEmpty(environment["SLUICE_PASSWORD"])
        var name = nonEmpty(user) ?? nonEmpty(environment["SLUICE_USER"])
        if name == nil, secret != nil { name = "Admin" }
        var credentials: APIClient.Credentials = .none
        if let key {
            credentials = .apiKey(key)
        } else if let name {
            credentials = .basic(user: name, password: secret ?? "")
        }
        return APIClient.Settings(baseURL: base, credentials: credentials)
    }
}
