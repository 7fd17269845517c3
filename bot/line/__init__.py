"""LINE adapter: rendering answers as LINE messages (``render``), sending them
exactly once in effect (``sender``), and a stand-in for the Messaging API
(``standin``) that tests and the local chat page talk to instead of LINE."""
