package kappa.peers;

/**
 * One Nexmark event as Kappa writes it (one JSON object per line, "type" first; see
 * kappa/connectors/nexmark/json.h). Flat, with public fields and a no-argument
 * constructor, so that Flink handles it as a POJO rather than a generic (Kryo) type.
 * Only the fields some query reads are kept: the parser skips the others.
 */
public final class Event {
  public static final int PERSON = 0;
  public static final int AUCTION = 1;
  public static final int BID = 2;

  public int type;
  /** Every type's dateTime, in milliseconds. */
  public long dateTime;

  // person: id, name, city, state; auction: id, seller, category, expires
  public long id;
  public String name;
  public String city;
  public String state;
  public long seller;
  public long category;
  public long expires;

  // bid
  public long auction;
  public long bidder;
  public long price;
  public String extra;

  public Event() {}

  public boolean isPerson() {
    return type == PERSON;
  }

  public boolean isAuction() {
    return type == AUCTION;
  }

  public boolean isBid() {
    return type == BID;
  }
}
