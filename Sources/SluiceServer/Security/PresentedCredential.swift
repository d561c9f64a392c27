import Foundation
import HTTPTypes
import SluiceCore

/// The credential a request carries, in any of the forms conda clients send (see docs/security.md):
/// `Authorization: Basic` as `<user>:<password>` or `api:<key>`, `X-ApiKey: <key>`, `Authorization: Bearer <key>`,
/// `Authorization: token <key>`, and the `/t/<key>/` path segment of channel URLs.
///
/// Its descriptions never show the secret, so logging one by mistake leaks nothing.
enum PresentedCredential: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// A user name and password (HTTP Basic).
    case password(user: String, password: String)
    /// The text of an API key.
    case apiKey(String)

    /// The user name that HTTP Basic uses to carry an API key as the password (ProGet's convention).
    static let apiKeyUserName = "api"
    /// The header some clients (ProGet's tools, scripts) put an API key in.
    static let apiKeyHeader = HTTPField.Name("X-ApiKey")!

    /// Reads the credential of a request: the `Authorization` header first, then `X-ApiKey`, then the path token.
    /// Returns nil when there is none.
    /// - Throws: `SluiceError.unauthenticated` for an `Authorization` header that is not Basic, Bearer or token, is
    ///   not valid base64 `user:password`, or carries an empty key.
    static func from(headers: HTTPFields, pathToken: String?) throws(SluiceError) -> PresentedCredential? {
        if let authorization = headers[.authorization] {
            return try from(authorization: authorization)
        }
        if let key = headers[apiKeyHeader] {
            return try nonEmptyKey(key.trimmingCharacters(in: .whitespaces))
        }
        if let pathToken {
            return try nonEmptyKey(pathToken)
        }
        return nil
    }

    /// Parses an `Authorization` header value.
    static func from(authorization value: String) throws(SluiceError) -> PresentedCredential {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let scheme: Substring
        let parameter: String
        if let space = trimmed.firstIndex(of: " ") {
            scheme = trimmed[..<space]
            parameter = trimmed[trimmed.index(after: space)...].trimmingCharacters(in: .whitespaces)
        } else {
            scheme = trimmed[...]
            parameter = ""
        }
        switch scheme.lowercased() {
        case "basic":
            guard let data = Data(base64Encoded: parameter), let decoded = String(data: data, encoding: .utf8),
                let colon = decoded.firstIndex(of: ":")
            else {
                throw SluiceError(
                    .unauthenticated, "The Authorization header is not valid HTTP Basic (base64 of user:password).")
            }
            let user = String(decoded[..<colon])
            let password = String(decoded[decoded.index(after: colon)...])
            if user.caseInsensitiveCompare(apiKeyUserName) == .orderedSame {
                return try nonEmptyKey(password)
            }
            return .password(user: user, password: password)
        case "bearer", "token":
            return try nonEmptyKey(parameter)
        default:
            throw SluiceError(
                .unauthenticated,
                "Unsupported Authorization scheme; use Basic (user:password or api:<key>), Bearer <key> or token <key>."
            )
        }
    }

    private static func nonEmptyKey(_ key: String) throws(SluiceError) -> PresentedCredential {
        guard !key.isEmpty else {
            throw SluiceError(.unauthenticated, "The API key is empty.")
        }
        return .apiKey(key)
    }

    var description: String {
        switch self {
        case .password(let user, _): "password(user: \(user), password: ***)"
        case .apiKey: "apiKey(***)"
        }
    }

    var debugDescription: String { description }

    var customMirror: Mirror { Mirror(self, children: ["redacted": description]) }
}
