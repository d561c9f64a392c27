import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SluiceCore
import Testing

@testable import SluiceServer

@Suite("Error mapping")
struct APIErrorTests {
    static let statuses: [(SluiceError.Code, Int)] = [
        (.notFound, 404), (.invalidInput, 400), (.invalidPackage, 400), (.conflict, 409), (.payloadTooLarge, 413),
        (.unauthenticated, 401), (.forbidden, 403), (.rangeNotSatisfiable, 416), (.upstreamUnavailable, 502),
        (.upstreamTimeout, 504), (.storageFailure, 500), (.internalError, 500),
    ]

    struct NotASluiceError: Error {}

    /// A router with the error middleware and routes that throw.
    static func router() -> Router<SluiceRequestContext> {
        let router = Router(context: SluiceRequestContext.self)
        router.add(middleware: SluiceErrorMiddleware())
        for (code, _) in statuses {
            router.get("throw/\(code)") { _, _ -> Response in throw SluiceError(code, "Message for \(code).") }
        }
        router.get("bug") { _, _ -> Response in throw NotASluiceError() }
        router.get("hummingbird") { _, _ -> Response in throw HTTPError(.badRequest, message: "bad thing") }
        return router
    }

    @Test func everyCodeHasItsStatusAndTheJSONShape() async throws {
        let app = Application(router: Self.router())
        try await app.test(.router) { client in
            for (code, status) in Self.statuses {
                try await client.execute(uri: "/throw/\(code)", method: .get) { response in
                    #expect(response.status.code == status, "\(code)")
                    #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                    let body = try json(response)
                    #expect(body == .object(["error": .string("\(code)"), "message": .string("Message for \(code).")]))
                    if code == .unauthenticated {
                        #expect(response.headers[.wwwAuthenticate] == #"Basic realm="Sluice""#)
                    } else {
                        #expect(response.headers[.wwwAuthenticate] == nil)
                    }
                }
            }
        }
    }

    @Test func unknownErrorsAreAGeneric500WithTheRequestID() async throws {
        let app = Application(router: Self.router())
        try await app.test(.router) { client in
            try await client.execute(uri: "/bug", method: .get) { response in
                #expect(response.status == .internalServerError)
                let body = try json(response)
                #expect(body["error"] == .string("internalError"))
                let message = try #require(body["message"]?.stringValue)
                #expect(message.contains("request id"))
                #expect(!message.contains("NotASluiceError"))
            }
        }
    }

    @Test func hummingbirdErrorsGetTheSameShape() async throws {
        let app = Application(router: Self.router())
        try await app.test(.router) { client in
            try await client.execute(uri: "/hummingbird", method: .get) { response in
                #expect(response.status == .badRequest)
                let body = try json(response)
                #expect(body == .object(["error": .string("invalidInput"), "message": .string("bad thing")]))
            }
            try await client.execute(uri: "/no/such/route", method: .get) { response in
                #expect(response.status == .notFound)
                let body = try json(response)
                #expect(body["error"] == .string("notFound"))
            }
        }
    }

    @Test func loggedPathsHideTokens() {
        #expect(
            SluiceErrorMiddleware<SluiceRequestContext>.redacted("/t/abc123/conda/feed/noarch/x.conda")
                == "/t/***/conda/feed/noarch/x.conda")
        #expect(
            SluiceErrorMiddleware<SluiceRequestContext>.redacted("/conda/t/abc123/feed/repodata.json")
                == "/conda/t/***/feed/repodata.json")
        #expect(
            SluiceErrorMiddleware<SluiceRequestContext>.redacted("/api/packages/feed/versions")
                == "/api/packages/feed/versions")
    }

    @Test func headResponsesHaveNoBody() async throws {
        let server = try await TestServer.make()
        try await server.test { client in
            try await client.execute(uri: "/conda/nothing/noarch/repodata.json", method: .head) { response in
                #expect(response.status == .notFound)
                #expect(response.body.readableBytes == 0)
            }
        }
    }
}
