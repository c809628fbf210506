package kappa.peers;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;

/**
 * Parses one JSON line into an {@link Event} with Jackson's streaming parser. Not
 * thread-safe: keep one per task. A line that is not a Nexmark event (not JSON, or no
 * known "type") is an IOException "not a Nexmark event: LINE".
 */
public final class EventParser {
  private final JsonFactory factory = new JsonFactory();

  public Event parse(String line) throws IOException {
    try {
      return parseOrThrow(line);
    } catch (JsonProcessingException e) {
      throw bad(line);
    }
  }

  private Event parseOrThrow(String line) throws IOException {
    Event e = new Event();
    e.type = -1;
    try (JsonParser p = factory.createParser(line)) {
      if (p.nextToken() != JsonToken.START_OBJECT) throw bad(line);
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        p.nextToken();
        switch (field) {
          case "type":
            switch (p.getText()) {
              case "person": e.type = Event.PERSON; break;
              case "auction": e.type = Event.AUCTION; break;
              case "bid": e.type = Event.BID; break;
              default: throw bad(line);
            }
            break;
          case "dateTime": e.dateTime = p.getLongValue(); break;
          case "id": e.id = p.getLongValue(); break;
          case "name": e.name = p.getText(); break;
          case "city": e.city = p.getText(); break;
          case "state": e.state = p.getText(); break;
          case "seller": e.seller = p.getLongValue(); break;
          case "category": e.category = p.getLongValue(); break;
          case "expires": e.expires = p.getLongValue(); break;
          case "auction": e.auction = p.getLongValue(); break;
          case "bidder": e.bidder = p.getLongValue(); break;
          case "price": e.price = p.getLongValue(); break;
          case "extra": e.extra = p.getText(); break;
          default: p.skipChildren(); break;
        }
      }
    }
    if (e.type < 0) throw bad(line);
    return e;
  }

  private static IOException bad(String line) {
    String head = line.length() > 80 ? line.substring(0, 80) + "..." : line;
    return new IOException("not a Nexmark event: " + head);
  }
}
